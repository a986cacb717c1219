//! The stationary phase of one dynamics: snapshots of the fluctuating weights, their leading
//! principal directions, the trajectory projected on them, and its entropy-production
//! analysis (docs/theory.md sections 3 and 7).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use nalgebra::DMatrix;
use serde::Serialize;

use super::analysis::{EntropyAnalysis, analyse};
use super::config::{MnistConfig, MnistError, invalid};
use super::idx::Digits;
use super::mlp::Mlp;
use super::walker::{Phase, Progress, Walker};
use crate::dynamics::{Algorithm, Dynamics, Replacement};

/// How many test digits a [`StationaryReport`] carries predictions for (a gallery's worth).
pub const PREDICTED_TEST_DIGITS: usize = 64;

/// Longest window `k` of the integral fluctuation theorem, and the window of the detailed one.
const FLUCTUATION_WINDOWS: usize = 5;

/// One stationary run (one replacement scheme) and its analysis.
#[derive(Clone, Debug, Serialize)]
pub struct StationaryReport {
    /// The run's algorithm.
    pub algorithm: Algorithm,
    /// The run's replacement scheme.
    pub replacement: Replacement,
    /// `step` with replacement, `epoch` without: the unit of every rate here.
    pub time_unit: &'static str,
    /// Weight snapshots behind the principal directions.
    pub snapshots: usize,
    /// Variance of the snapshots along each principal direction, largest first.
    pub principal_variances: Vec<f64>,
    /// Recorded positions; consecutive ones are `record_stride` time units apart.
    pub recorded_units: usize,
    /// Time units between recorded positions.
    pub record_stride: usize,
    /// Test accuracy with the final weights.
    pub test_accuracy: f64,
    /// Test accuracy with the weights averaged over the directions phase's snapshots: the
    /// mean of the stationary distribution, without the fluctuations of any one moment.
    pub averaged_test_accuracy: f64,
    /// Training accuracy with the final weights.
    pub train_accuracy: f64,
    /// Wall-clock time of this run.
    pub seconds: f64,
    /// In the theory's time unit (steps with replacement, epochs without).
    pub analysis: EntropyAnalysis,
    /// Predicted classes of the first [`PREDICTED_TEST_DIGITS`] test digits with the final
    /// weights of this run (the test set's order, so `test.labels[i]` is the truth).
    pub test_predictions: Vec<u8>,
    /// Without replacement only: the same directions, every step (not a Markov chain at
    /// this resolution, since the batches of an epoch are not independent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub analysis_per_step: Option<EntropyAnalysis>,
}

/// What every phase of a run shares.
pub(super) struct Shared<'a> {
    pub config: &'a MnistConfig,
    pub mlp: Mlp,
    /// Training and test digits.
    pub data: (&'a Digits, &'a Digits),
    pub cancel: &'a AtomicBool,
    pub progress: &'a (dyn Fn(Progress) + Sync),
}

/// The stationary phase for one dynamics, starting from trained weights `w`.
pub(super) fn stationary(
    shared: &Shared,
    dynamics: Dynamics,
    w: Vec<f64>,
    seed: u64,
) -> Result<StationaryReport, MnistError> {
    let started = Instant::now();
    let mut walker = Walker::new(shared.mlp, dynamics, shared.data, w, seed);
    let mut snapshots = collect_snapshots(shared, &mut walker, &dynamics)?;
    let count = snapshots.len() / walker.w.len();
    if shared.cancel.load(Ordering::Relaxed) {
        return Err(MnistError::Cancelled);
    }
    let k = shared.config.projection_dim;
    let (projection, principal_variances) =
        Projection::principal(&mut snapshots, count, walker.w.len(), k);
    drop(snapshots);
    let averaged_test_accuracy = walker
        .mlp
        .evaluate(&projection.mean, walker.test, &mut walker.workspace)
        .accuracy();
    let record = record(shared, &mut walker, &dynamics, &projection)?;
    let analyse = |trajectory: &[f64]| {
        analyse(trajectory, k, FLUCTUATION_WINDOWS, FLUCTUATION_WINDOWS).map_err(|error| {
            MnistError::Analysis {
                replacement: dynamics.replacement.name(),
                error,
            }
        })
    };
    let analysis = analyse(&record.per_unit)?;
    let analysis_per_step = record.per_step.as_deref().map(analyse).transpose()?;
    let (mlp, workspace) = (walker.mlp, &mut walker.workspace);
    let test = mlp.evaluate(&walker.w, walker.test, workspace);
    let train = mlp.evaluate(&walker.w, walker.train, workspace);
    let test_predictions = mlp.predict(&walker.w, walker.test, PREDICTED_TEST_DIGITS, workspace);
    Ok(StationaryReport {
        algorithm: dynamics.algorithm,
        test_predictions,
        replacement: dynamics.replacement,
        time_unit: dynamics.time_unit().name(),
        snapshots: count,
        principal_variances,
        recorded_units: record.per_unit.len() / k,
        record_stride: record.stride,
        test_accuracy: test.accuracy(),
        averaged_test_accuracy,
        train_accuracy: train.accuracy(),
        seconds: started.elapsed().as_secs_f64(),
        analysis,
        analysis_per_step,
    })
}

/// Time units per epoch: every step with replacement, the epoch without (docs/theory.md
/// section 2).
fn units_per_epoch(dynamics: &Dynamics) -> usize {
    match dynamics.replacement {
        Replacement::Wr => dynamics.batches_per_epoch(),
        Replacement::Wor => 1,
    }
}

/// Snapshots of the stationary weights (row-major, `count × d`), evenly spaced over the
/// `pca_epochs` epochs of the directions phase.
fn collect_snapshots(
    shared: &Shared,
    walker: &mut Walker,
    dynamics: &Dynamics,
) -> Result<Vec<f64>, MnistError> {
    let config = shared.config;
    let d = walker.w.len();
    let k = config.projection_dim;
    let pca_units = config.pca_epochs * units_per_epoch(dynamics);
    let interval = pca_units.div_ceil(config.snapshots).max(1);
    let capacity = pca_units / interval;
    let mut snapshots = Vec::with_capacity(capacity * d);
    let mut unit = 0usize;
    walker.run_phase(
        Phase::Directions,
        config.pca_epochs,
        shared.cancel,
        shared.progress,
        &mut |w, unit_end| {
            if !unit_end {
                return;
            }
            unit += 1;
            if unit.is_multiple_of(interval) && snapshots.len() < capacity * d {
                snapshots.extend_from_slice(w);
            }
        },
    )?;
    let count = snapshots.len() / d;
    if count <= k {
        return Err(invalid(
            "pca_epochs",
            format!(
                "{} {pca_units} time units give only {count} snapshots for {k} directions; raise pca_epochs",
                dynamics.replacement.name().to_uppercase(),
            ),
        ));
    }
    Ok(snapshots)
}

/// The projection `x = U (w − mean)` on the `k` leading principal directions (rows of `U`).
pub(super) struct Projection {
    /// The snapshots' mean.
    mean: Vec<f64>,
    /// `k × d`, row-major.
    directions: Vec<f64>,
    /// `U mean`.
    projected_mean: Vec<f64>,
    k: usize,
    d: usize,
}

impl Projection {
    /// Mean and leading principal directions of snapshots (`count × d`, row-major, centred
    /// in place), through the Gram matrix `G = X Xᵀ` of the centred snapshots: if
    /// `G v = λ v` then `u = Xᵀ v / √λ` is a unit eigenvector of the covariance `XᵀX / count`
    /// with eigenvalue `λ / count`. Returns the projection and the variances along its
    /// directions, largest first.
    pub(super) fn principal(
        snapshots: &mut [f64],
        count: usize,
        d: usize,
        k: usize,
    ) -> (Self, Vec<f64>) {
        let mut mean = vec![0.0; d];
        for row in snapshots.chunks_exact(d) {
            for (m, &x) in mean.iter_mut().zip(row) {
                *m += x / count as f64;
            }
        }
        for row in snapshots.chunks_exact_mut(d) {
            for (x, &m) in row.iter_mut().zip(&mean) {
                *x -= m;
            }
        }
        let x = MatRef::from_row_major_slice(&snapshots[..count * d], count, d);
        let mut gram = vec![0.0; count * count];
        matmul(
            MatMut::from_row_major_slice_mut(&mut gram, count, count),
            Accum::Replace,
            x,
            x.transpose(),
            1.0,
            Par::Seq,
        );
        let eigen = DMatrix::from_row_slice(count, count, &gram).symmetric_eigen();
        let mut order: Vec<usize> = (0..count).collect();
        order.sort_by(|&a, &b| eigen.eigenvalues[b].total_cmp(&eigen.eigenvalues[a]));
        let mut directions = vec![0.0; k * d];
        let mut variances = Vec::with_capacity(k);
        for (j, &column) in order.iter().take(k).enumerate() {
            variances.push(eigen.eigenvalues[column].max(0.0) / count as f64);
            let u = &mut directions[j * d..(j + 1) * d];
            for (s, row) in snapshots.chunks_exact(d).enumerate().take(count) {
                let v = eigen.eigenvectors[(s, column)];
                for (u, &x) in u.iter_mut().zip(row) {
                    *u += v * x;
                }
            }
            let norm = u.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 0.0 {
                u.iter_mut().for_each(|x| *x /= norm);
            }
        }
        let mut projection = Self {
            mean: Vec::new(),
            directions,
            projected_mean: vec![0.0; k],
            k,
            d,
        };
        let mut projected_mean = vec![0.0; k];
        projection.apply(&mean, &mut projected_mean);
        projection.projected_mean = projected_mean;
        projection.mean = mean;
        (projection, variances)
    }

    /// `out = U w`.
    fn apply(&self, w: &[f64], out: &mut [f64]) {
        matmul(
            MatMut::from_column_major_slice_mut(out, self.k, 1),
            Accum::Replace,
            MatRef::from_row_major_slice(&self.directions, self.k, self.d),
            MatRef::from_column_major_slice(w, self.d, 1),
            1.0,
            Par::Seq,
        );
    }

    /// Append `U (w − mean) = U w − U mean` to `trajectory`, one matrix–vector product.
    fn push(&self, w: &[f64], scratch: &mut [f64], trajectory: &mut Vec<f64>) {
        self.apply(w, scratch);
        trajectory.extend(scratch.iter().zip(&self.projected_mean).map(|(x, m)| x - m));
    }
}

/// The projected stationary trajectory.
struct Record {
    /// One position per `stride` time units (row-major, `k` wide).
    per_unit: Vec<f64>,
    stride: usize,
    /// Without replacement: one position per `record_stride` steps as well.
    per_step: Option<Vec<f64>>,
}

/// Run the recording phase, projecting the weights at every recorded time unit. Without
/// replacement the theory's time unit is the epoch; the trajectory is also recorded at
/// steps, for a comparison at the resolution of the with-replacement run.
fn record(
    shared: &Shared,
    walker: &mut Walker,
    dynamics: &Dynamics,
    projection: &Projection,
) -> Result<Record, MnistError> {
    let config = shared.config;
    let k = projection.k;
    let per_step = dynamics.replacement == Replacement::Wor;
    let stride = config.record_stride;
    let mut per_unit = Vec::with_capacity(config.record_epochs * units_per_epoch(dynamics) * k);
    let mut step_trajectory = Vec::with_capacity(if per_step {
        config.record_epochs * dynamics.batches_per_epoch() * k
    } else {
        0
    });
    let mut scratch = vec![0.0; k];
    let (mut steps_seen, mut units_seen) = (0usize, 0usize);
    walker.run_phase(
        Phase::Recording,
        config.record_epochs,
        shared.cancel,
        shared.progress,
        &mut |w, unit_end| {
            steps_seen += 1;
            units_seen += usize::from(unit_end);
            // Epochs without replacement are few already: the stride thins only steps.
            if unit_end && (per_step || units_seen.is_multiple_of(stride)) {
                projection.push(w, &mut scratch, &mut per_unit);
            }
            if per_step && steps_seen.is_multiple_of(stride) {
                projection.push(w, &mut scratch, &mut step_trajectory);
            }
        },
    )?;
    Ok(Record {
        per_unit,
        stride: if per_step { 1 } else { stride },
        per_step: per_step.then_some(step_trajectory),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Snapshots spread along two known orthogonal directions with variances 4 and 1 (and a
    /// little noise elsewhere): the projection finds them, in order, with those variances
    /// up to the sampling error of 400 snapshots (relative standard error √(2/400) ≈ 7%:
    /// tolerance 25%).
    #[test]
    fn principal_directions_of_known_snapshots() {
        use rand::SeedableRng;
        use rand_distr::{Distribution, StandardNormal};
        let (count, d) = (400, 6);
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(3);
        let mut snapshots = Vec::with_capacity(count * d);
        let e0 = [0.6, 0.8, 0.0, 0.0, 0.0, 0.0];
        let e1 = [0.0, 0.0, 1.0, 0.0, 0.0, 0.0];
        for _ in 0..count {
            let a: f64 = StandardNormal.sample(&mut rng);
            let b: f64 = StandardNormal.sample(&mut rng);
            for j in 0..d {
                let noise: f64 = StandardNormal.sample(&mut rng);
                snapshots.push(5.0 + 2.0 * a * e0[j] + b * e1[j] + 0.01 * noise);
            }
        }
        let mean: Vec<f64> = (0..d)
            .map(|j| snapshots.iter().skip(j).step_by(d).sum::<f64>() / count as f64)
            .collect();
        let (projection, variances) = Projection::principal(&mut snapshots, count, d, 2);
        assert!((variances[0] / 4.0 - 1.0).abs() < 0.25, "{variances:?}");
        assert!((variances[1] - 1.0).abs() < 0.25, "{variances:?}");
        let overlap0: f64 = projection.directions[..d]
            .iter()
            .zip(&e0)
            .map(|(u, e)| u * e)
            .sum();
        let overlap1: f64 = projection.directions[d..]
            .iter()
            .zip(&e1)
            .map(|(u, e)| u * e)
            .sum();
        assert!(
            overlap0.abs() > 0.99 && overlap1.abs() > 0.99,
            "{overlap0} {overlap1}"
        );
        // The snapshots' mean projects to the origin.
        let mut trajectory = Vec::new();
        projection.push(&mean, &mut [0.0; 2], &mut trajectory);
        assert!(trajectory.iter().all(|x| x.abs() < 1e-9), "{trajectory:?}");
    }
}
