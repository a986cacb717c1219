//! SGWORLD's epoch map summed over permutations without allocating (docs/theory.md §5.3):
//! the same `P`, `q`, `Q` and second-order control variates as
//! [`QuadraticModel::epoch_map`] and [`QuadraticModel::epoch_map_second_order`], on flat
//! row-major buffers reused from one permutation to the next (the map's Monte Carlo spends
//! its time here).

use nalgebra::{DMatrix, DVector};

use super::{AffineAverages, QuadraticModel};

/// Buffers for [`QuadraticModel::add_permutation`], built once per block of permutations.
pub(super) struct EpochScratch {
    d: usize,
    /// `h_i`, example-major, each row-major.
    hessians: Vec<f64>,
    /// Centred `b̃_i`, example-major.
    linear: Vec<f64>,
    /// Batch means of the current permutation, batch-major.
    batch_h: Vec<f64>,
    batch_b: Vec<f64>,
    later: Vec<f64>,
    product: Vec<f64>,
    q: Vec<f64>,
    noise: Vec<f64>,
    h_before: Vec<f64>,
    b_before: Vec<f64>,
    hh: Vec<f64>,
    hb: Vec<f64>,
}

/// `out += a b` for row-major `d × d` matrices.
fn add_product(out: &mut [f64], a: &[f64], b: &[f64], d: usize) {
    for i in 0..d {
        for k in 0..d {
            let aik = a[i * d + k];
            for j in 0..d {
                out[i * d + j] += aik * b[k * d + j];
            }
        }
    }
}

impl EpochScratch {
    /// The batch means `H_k`, `b_k` of one permutation, in the order of the epoch (the last
    /// `N mod B` indices dropped).
    fn batch_means(&mut self, permutation: &[usize], batch: usize) {
        let d = self.d;
        let dd = d * d;
        let scale = 1.0 / batch as f64;
        self.batch_h.fill(0.0);
        self.batch_b.fill(0.0);
        for (k, indices) in permutation.chunks_exact(batch).enumerate() {
            let (h, b) = (
                &mut self.batch_h[k * dd..(k + 1) * dd],
                &mut self.batch_b[k * d..(k + 1) * d],
            );
            for &i in indices {
                for (x, y) in h.iter_mut().zip(&self.hessians[i * dd..(i + 1) * dd]) {
                    *x += scale * y;
                }
                for (x, y) in b.iter_mut().zip(&self.linear[i * d..(i + 1) * d]) {
                    *x += scale * y;
                }
            }
        }
    }

    /// The sums behind the second-order epoch map
    /// `P₂ = I − η Σ_k H_k + η² Σ_{j<k} H_k H_j`, `q₂ = η Σ_k b_k − η² Σ_{j<k} H_k b_j`:
    /// `h_before = Σ_k H_k`, `b_before = Σ_k b_k`, `hh = Σ_{j<k} H_k H_j`,
    /// `hb = Σ_{j<k} H_k b_j`, over the first `batches` batch means.
    fn second_order_sums(&mut self, batches: usize) {
        let d = self.d;
        let dd = d * d;
        self.h_before.fill(0.0);
        self.b_before.fill(0.0);
        self.hh.fill(0.0);
        self.hb.fill(0.0);
        for k in 0..batches {
            let h = &self.batch_h[k * dd..(k + 1) * dd];
            add_product(&mut self.hh, h, &self.h_before, d);
            for i in 0..d {
                self.hb[i] += (0..d).map(|j| h[i * d + j] * self.b_before[j]).sum::<f64>();
            }
            for (x, y) in self.h_before.iter_mut().zip(h) {
                *x += y;
            }
            for (x, y) in self
                .b_before
                .iter_mut()
                .zip(&self.batch_b[k * d..(k + 1) * d])
            {
                *x += y;
            }
        }
    }
}

impl QuadraticModel {
    pub(super) fn epoch_scratch(&self, batch: usize) -> EpochScratch {
        let d = self.dim;
        let m = self.n_examples() / batch.max(1);
        let row_major =
            |h: &DMatrix<f64>| -> Vec<f64> { (0..d * d).map(|k| h[(k / d, k % d)]).collect() };
        EpochScratch {
            d,
            hessians: self.hessians.iter().flat_map(row_major).collect(),
            linear: self.linear.iter().flat_map(|b| b.iter().copied()).collect(),
            batch_h: vec![0.0; m * d * d],
            batch_b: vec![0.0; m * d],
            later: vec![0.0; d * d],
            product: vec![0.0; d * d],
            q: vec![0.0; d],
            noise: vec![0.0; d * d],
            h_before: vec![0.0; d * d],
            b_before: vec![0.0; d],
            hh: vec![0.0; d * d],
            hb: vec![0.0; d],
        }
    }

    /// Add one permutation's epoch map to `sums` with the control variates of
    /// [`QuadraticModel::sgworld`]: first moments `P − P₂ + E[P₂]`, `q − q₂ + E[q₂]`
    /// (`control = (E[P₂], E[q₂])`), second moments from `P`, `q` themselves.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn add_permutation(
        &self,
        permutation: &[usize],
        batch: usize,
        eta: f64,
        temperature: f64,
        control: &(DMatrix<f64>, DVector<f64>),
        s: &mut EpochScratch,
        sums: &mut AffineAverages,
    ) {
        let d = s.d;
        let dd = d * d;
        let batches = permutation.len() / batch;
        s.batch_means(permutation, batch);
        s.second_order_sums(batches);
        // The exact epoch map, from the last step back: Q += later laterᵀ, q += later c_k,
        // later ← later A_k.
        s.later.fill(0.0);
        for i in 0..d {
            s.later[i * d + i] = 1.0;
        }
        s.q.fill(0.0);
        s.noise.fill(0.0);
        for k in (0..batches).rev() {
            for i in 0..d {
                for j in 0..d {
                    s.noise[i * d + j] += (0..d)
                        .map(|l| s.later[i * d + l] * s.later[j * d + l])
                        .sum::<f64>();
                }
                s.q[i] += eta
                    * (0..d)
                        .map(|l| s.later[i * d + l] * s.batch_b[k * d + l])
                        .sum::<f64>();
            }
            // later · (I − η H_k) = later − η later H_k.
            s.product.copy_from_slice(&s.later);
            let h = &s.batch_h[k * dd..(k + 1) * dd];
            for i in 0..d {
                for l in 0..d {
                    let value = s.product[i * d + l];
                    for j in 0..d {
                        s.later[i * d + j] -= eta * value * h[l * d + j];
                    }
                }
            }
        }
        let noise_scale = 2.0 * eta * temperature;
        sums.weight += 1.0;
        for i in 0..d {
            for j in 0..d {
                let p = s.later[i * d + j];
                let delta = if i == j { 1.0 } else { 0.0 };
                let p2 = delta - eta * s.h_before[i * d + j] + eta * eta * s.hh[i * d + j];
                sums.p[(i, j)] += p - p2 + control.0[(i, j)];
                sums.qq[(i, j)] += s.q[i] * s.q[j];
                sums.noise[(i, j)] += noise_scale * s.noise[i * d + j];
                for k in 0..d {
                    for l in 0..d {
                        // (P ⊗ P)[(i d + k, j d + l)] = P_ij P_kl; (q ⊗ P)[(i d + k, l)] = q_i P_kl.
                        sums.pp[(i * d + k, j * d + l)] += p * s.later[k * d + l];
                    }
                    sums.qp[(i * d + k, j)] += s.q[i] * s.later[k * d + j];
                }
            }
            let q2 = eta * s.b_before[i] - eta * eta * s.hb[i];
            sums.q[i] += s.q[i] - q2 + control.1[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landscape::QuadraticExamples;

    /// The flat sums equal the allocating reference path, permutation by permutation, with
    /// and without dropped examples.
    #[test]
    fn flat_sums_equal_the_reference_epoch_map() {
        let n = 7;
        let examples = QuadraticExamples {
            dim: 2,
            hessians: (0..n)
                .map(|i| {
                    let t = i as f64;
                    vec![
                        1.0 + 0.3 * t,
                        0.2 - 0.1 * t,
                        0.2 - 0.1 * t,
                        2.0 + (0.7 * t).sin(),
                    ]
                })
                .collect(),
            linear: (0..n)
                .map(|i| vec![(1.3 * i as f64).cos(), 0.5 * i as f64 - 1.0])
                .collect(),
        };
        let model = QuadraticModel::from_examples(&examples).expect("model");
        let permutations: [[usize; 7]; 3] = [
            [0, 1, 2, 3, 4, 5, 6],
            [6, 2, 4, 0, 1, 5, 3],
            [3, 5, 1, 6, 0, 2, 4],
        ];
        for batch in [1, 2, 3] {
            let (eta, temperature) = (0.07, 0.4);
            let control = model.epoch_second_order_expectation(batch, eta);
            let mut scratch = model.epoch_scratch(batch);
            let mut flat = AffineAverages::zeros(2);
            let mut reference = AffineAverages::zeros(2);
            for permutation in &permutations {
                model.add_permutation(
                    permutation,
                    batch,
                    eta,
                    temperature,
                    &control,
                    &mut scratch,
                    &mut flat,
                );
                let (p, q, noise) = model.epoch_map(permutation, batch, eta, temperature);
                let (p2, q2) = model.epoch_map_second_order(permutation, batch, eta);
                reference.add_controlled(
                    &(&p - p2 + &control.0),
                    &(&q - q2 + &control.1),
                    &p,
                    &q,
                    &noise,
                );
            }
            let close =
                |a: &DMatrix<f64>, b: &DMatrix<f64>| (a - b).norm() < 1e-13 * (1.0 + b.norm());
            assert_eq!(flat.weight, reference.weight);
            assert!(close(&flat.p, &reference.p), "B = {batch}: P");
            assert!((&flat.q - &reference.q).norm() < 1e-13, "B = {batch}: q");
            assert!(close(&flat.pp, &reference.pp), "B = {batch}: P ⊗ P");
            assert!(close(&flat.qp, &reference.qp), "B = {batch}: q ⊗ P");
            assert!(close(&flat.qq, &reference.qq), "B = {batch}: q qᵀ");
            assert!(close(&flat.noise, &reference.noise), "B = {batch}: Q");
        }
    }
}
