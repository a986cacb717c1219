//! Minibatch-gradient kernels, one per landscape family, over lanes of walkers
//! (docs/theory.md §11).
//!
//! The ensemble keeps walkers in groups of [`LANES`]: lane `l` of a [`Lanes`] array belongs to
//! walker `l` of the group, so a landscape's arithmetic runs on all of them at once (structure
//! of arrays). A kernel computes, for every lane, exactly the operations of its scalar
//! reference in exactly the same order; a multiply-add is fused (`f64::mul_add`) in both or in
//! neither, so that every operation is correctly rounded and hardware-independent. The loops
//! over lanes become SIMD instructions under the CPU features that [`pulp::Arch`] detects at
//! run time: the compiler vectorises the simple ones, and the long `tanh` runs in explicit
//! registers of the [`Simd`] token the kernels receive ([`super::tanh::tanh_simd`]). The results
//! are the same bits as the scalar reference, whatever the lane width of the machine, the
//! number of threads, or the group a walker falls into. The tests check that bit for bit, in
//! the machine's widest registers and one double at a time.

use pulp::Simd;

use super::Bowl;
use super::regression_net::NetModel;

/// Walkers per group, one per lane. Eight doubles fill one AVX-512 register or two AVX2 ones;
/// on narrower machines the compiler splits the arrays, with the same results.
pub const LANES: usize = 8;

/// One `f64` per lane.
pub type Lanes = [f64; LANES];

/// A landscape family whose minibatch gradient `g_B = (1/B) Σ_{i∈batch} g_i` (docs/theory.md
/// section 2) has the fixed dimension `D`, for one walker or for [`LANES`] walkers at once.
/// `simd` is the token of the CPU features the caller runs under (`pulp::Arch::dispatch`), for
/// the explicit vector code of a kernel (`pulp::Scalar` where there is none); the results do
/// not depend on it.
pub trait GradientKernel<const D: usize>: Sync {
    /// `g_B(w)` for one walker. Must equal the landscape's
    /// [`Landscape::batch_gradient`](super::Landscape::batch_gradient) bit for bit.
    fn walker_gradient<S: Simd>(&self, simd: S, batch: &[usize], w: &[f64; D]) -> [f64; D];

    /// `g_B` for [`LANES`] walkers: lane `l` sits at `w[a][l]` and draws the batch
    /// `batch[k][l]`, `k < B`. Lane `l` of the result equals
    /// [`walker_gradient`](Self::walker_gradient) of lane `l`, bit for bit.
    fn lane_gradient<S: Simd>(
        &self,
        simd: S,
        batch: &[[usize; LANES]],
        w: &[Lanes; D],
    ) -> [Lanes; D];
}

/// The kernel a landscape offers the ensemble; [`Generic`](WalkerKernel::Generic) landscapes
/// are stepped one walker at a time through
/// [`Landscape::batch_gradient`](super::Landscape::batch_gradient).
#[derive(Clone, Copy, Debug)]
pub enum WalkerKernel<'a> {
    /// The two-dimensional anisotropic bowl.
    Bowl(&'a Bowl),
    /// The seven-weight regression network of docs/theory.md §6.
    Net(&'a NetModel),
    /// No specialised kernel.
    Generic,
}

#[cfg(test)]
pub(crate) mod testing {
    //! Bit-for-bit checks of lane kernels against their scalar references.
    use super::*;
    use crate::dynamics::BatchSampler;
    use crate::landscape::Landscape;
    use rand::{RngExt, SeedableRng};
    use rand_pcg::Pcg64Mcg;

    /// For random weights and random batches of every size up to `max_batch`, the lane kernel
    /// and the one-walker kernel both equal `reference` (the landscape's own batch gradient)
    /// in every bit: in the widest registers of this machine (what the ensemble runs) and one
    /// double at a time.
    pub fn lanes_match_reference<const D: usize, K: GradientKernel<D>>(
        kernel: &K,
        reference: &dyn Landscape,
        spread: f64,
        max_batch: usize,
    ) {
        struct Widest<'a, const D: usize, K> {
            kernel: &'a K,
            reference: &'a dyn Landscape,
            spread: f64,
            max_batch: usize,
        }
        impl<const D: usize, K: GradientKernel<D>> pulp::WithSimd for Widest<'_, D, K> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: Simd>(self, simd: S) {
                check(
                    simd,
                    self.kernel,
                    self.reference,
                    self.spread,
                    self.max_batch,
                );
            }
        }
        pulp::Arch::new().dispatch(Widest {
            kernel,
            reference,
            spread,
            max_batch,
        });
        check(pulp::Scalar::new(), kernel, reference, spread, max_batch);
    }

    fn check<const D: usize, K: GradientKernel<D>, S: Simd>(
        simd: S,
        kernel: &K,
        reference: &dyn Landscape,
        spread: f64,
        max_batch: usize,
    ) {
        let n = reference.n_examples();
        let mut rng = Pcg64Mcg::seed_from_u64(17);
        let mut sampler = BatchSampler::new(n);
        let start = reference.start();
        for b in 1..=max_batch.min(n) {
            for _ in 0..20 {
                let mut w = [[0.0; LANES]; D];
                let mut batch = vec![[0usize; LANES]; b];
                for l in 0..LANES {
                    for (a, row) in w.iter_mut().enumerate() {
                        row[l] = start[a] + spread * (rng.random::<f64>() - 0.5);
                    }
                    for (k, &i) in sampler.with_replacement(&mut rng, b).iter().enumerate() {
                        batch[k][l] = i;
                    }
                }
                let lanes = kernel.lane_gradient(simd, &batch, &w);
                for l in 0..LANES {
                    let walker: [f64; D] = std::array::from_fn(|a| w[a][l]);
                    let indices: Vec<usize> = batch.iter().map(|row| row[l]).collect();
                    let mut expected = vec![0.0; D];
                    reference.batch_gradient(&indices, &walker, &mut expected);
                    let single = kernel.walker_gradient(simd, &indices, &walker);
                    for a in 0..D {
                        assert_eq!(
                            lanes[a][l].to_bits(),
                            expected[a].to_bits(),
                            "lane {l}, component {a}, batch {indices:?}"
                        );
                        assert_eq!(
                            single[a].to_bits(),
                            expected[a].to_bits(),
                            "one walker, component {a}, batch {indices:?}"
                        );
                    }
                }
            }
        }
    }
}
