//! The map as a background [`Task`] of the one job mechanism ([`crate::jobs`]): the theory
//! map, or the validity simulation of a map already computed, the latest request winning.
//!
//! ```
//! use neqlab::jobs::{Job, JobEvent};
//! use neqlab::map::job::{MapRequest, MapTask};
//! # use std::path::Path;
//! # let text = neqlab::preset::shipped("bowl-current").unwrap();
//! # let preset = neqlab::preset::Preset::from_toml(text, Path::new("b")).unwrap();
//! # let experiment = preset.build(Path::new("b"), Some(text)).unwrap();
//! let axes = neqlab::map::MapAxes::new(vec![0.01, 0.1], vec![10], 100).unwrap();
//! let mut job = Job::inline(MapTask); // the app uses Job::spawn(MapTask, JobSpec::background("map"))
//! job.request(MapRequest::Theory { experiment, axes: Some(axes) });
//! let events = job.poll();
//! assert!(matches!(events.last(), Some(JobEvent::Finished(Ok(map))) if map.cells.len() == 4));
//! ```

use crate::jobs::{Context, Task};
use crate::preset::Experiment;

use super::{HyperMap, MapAxes, MapCell, MapError, SimulationOptions, simulate_map, theory_map};

/// What the map job is asked to do.
pub enum MapRequest {
    /// Compute the theory map of `experiment` (default axes when `None`).
    Theory {
        /// The experiment: landscape, algorithm and temperature.
        experiment: Experiment,
        /// The axes; `None` for the defaults.
        axes: Option<MapAxes>,
    },
    /// Simulate the validity overlay of `map`, which was computed for `experiment`.
    Simulate {
        /// The theory map to overlay.
        map: Box<HyperMap>,
        /// The experiment it was computed for.
        experiment: Experiment,
        /// Subgrid, walkers and run lengths.
        options: SimulationOptions,
    },
}

/// One simulated cell, as soon as it is done: apply it to the shown map with
/// `map.cells[index] = cell`.
#[derive(Clone, Debug, PartialEq)]
pub struct CellUpdate {
    /// Position in [`HyperMap::cells`].
    pub index: usize,
    /// The cell with its simulation.
    pub cell: MapCell,
}

/// The map computations as a [`Task`]: progress is reported as the fraction of the work,
/// every simulated cell as a [`CellUpdate`], and a cancelled request stops within one slice
/// of about 2·10⁷ gradient evaluations.
#[derive(Clone, Copy, Debug, Default)]
pub struct MapTask;

impl Task for MapTask {
    type Request = MapRequest;
    type Update = CellUpdate;
    type Output = HyperMap;
    type Error = MapError;

    fn run(
        &mut self,
        request: MapRequest,
        context: &Context<CellUpdate>,
    ) -> Result<HyperMap, MapError> {
        match request {
            MapRequest::Theory { experiment, axes } => {
                context.progress(0.0, "theory map");
                let map = theory_map(&experiment, axes)?;
                context.progress(1.0, "theory map");
                Ok(map)
            }
            MapRequest::Simulate {
                map,
                experiment,
                options,
            } => {
                let mut map = *map;
                simulate_map(
                    &mut map,
                    &experiment,
                    &options,
                    context.cancel_flag(),
                    &mut |progress| {
                        context.progress(
                            progress.fraction,
                            format!(
                                "simulating cell {} of {}",
                                (progress.cells_done + 1).min(progress.cells_total),
                                progress.cells_total
                            ),
                        );
                        if let Some((index, cell)) = progress.finished {
                            context.update(CellUpdate { index, cell });
                        }
                    },
                )?;
                Ok(map)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::jobs::{Job, JobError, JobEvent};

    fn bowl() -> Experiment {
        let text = crate::preset::shipped("bowl-current").expect("shipped");
        let preset = crate::preset::Preset::from_toml(text, Path::new("b")).expect("parses");
        preset.build(Path::new("b"), Some(text)).expect("builds")
    }

    /// The simulation request streams one update per simulated cell, then the whole map;
    /// a cancelled request ends without a map.
    #[test]
    fn simulation_streams_cells_and_cancels() {
        let experiment = bowl();
        let axes = MapAxes::new(vec![0.02, 0.05], vec![50], 100).expect("axes");
        let map = theory_map(&experiment, Some(axes)).expect("map");
        let options = SimulationOptions {
            walkers: 64,
            min_walkers: 16,
            max_gradients_per_cell: 4e6,
            ..SimulationOptions::default()
        };
        let mut job = Job::inline(MapTask);
        job.request(MapRequest::Simulate {
            map: Box::new(map.clone()),
            experiment: experiment.clone(),
            options: options.clone(),
        });
        let events = job.poll();
        let updates = events
            .iter()
            .filter(|e| matches!(e, JobEvent::Update(_)))
            .count();
        let Some(JobEvent::Finished(Ok(done))) = events.last() else {
            panic!("no map: {:?}", events.last().map(|_| "other event"));
        };
        let simulated = done.cells.iter().filter(|c| c.sim.is_some()).count();
        assert_eq!(updates, simulated);
        assert_eq!(simulated, 4, "2 η × 1 B × 2 modes");
        job.request(MapRequest::Simulate {
            map: Box::new(map),
            experiment,
            options,
        });
        job.cancel();
        let events = job.poll();
        assert!(
            matches!(
                events.last(),
                Some(JobEvent::Finished(Err(
                    JobError::Cancelled | JobError::Failed(MapError::Cancelled { .. })
                )))
            ),
            "the cancelled request gave a map"
        );
    }
}
