//! Sums of random affine maps and their stationary moments (docs/theory.md section 5).

use nalgebra::{DMatrix, DVector, Schur};

use super::ExactError;

/// Sums of the random affine map `w ← P w + q + ζ`, `Cov ζ = Q`, over weighted draws
/// (see the module documentation). Blocks of draws can be added and subtracted, which the
/// jackknife over blocks of permutations uses.
#[derive(Clone, Debug)]
pub struct AffineAverages {
    pub(super) dim: usize,
    pub(super) weight: f64,
    pub(super) p: DMatrix<f64>,
    pub(super) q: DVector<f64>,
    /// `Σ P ⊗ P`, `d² × d²`.
    pub(super) pp: DMatrix<f64>,
    /// `Σ q ⊗ P`, `d² × d`: `vec(P m qᵀ) = (q ⊗ P) m`.
    pub(super) qp: DMatrix<f64>,
    pub(super) qq: DMatrix<f64>,
    pub(super) noise: DMatrix<f64>,
}

impl AffineAverages {
    /// No draws yet.
    pub fn zeros(dim: usize) -> Self {
        Self {
            dim,
            weight: 0.0,
            p: DMatrix::zeros(dim, dim),
            q: DVector::zeros(dim),
            pp: DMatrix::zeros(dim * dim, dim * dim),
            qp: DMatrix::zeros(dim * dim, dim),
            qq: DMatrix::zeros(dim, dim),
            noise: DMatrix::zeros(dim, dim),
        }
    }

    /// Total weight of the draws (their number, for unit weights).
    pub fn weight(&self) -> f64 {
        self.weight
    }

    /// Add one draw `(P, q, Q)` with `weight`.
    pub fn add(&mut self, p: &DMatrix<f64>, q: &DVector<f64>, noise: &DMatrix<f64>, weight: f64) {
        self.weight += weight;
        self.p += p * weight;
        self.q += q * weight;
        self.pp += p.kronecker(p) * weight;
        self.qp += q.kronecker(p) * weight;
        self.qq += q * q.transpose() * weight;
        self.noise += noise * weight;
    }

    /// Add one draw whose first moments are estimated through other unbiased estimators
    /// (control variates) `p_mean`, `q_mean` of `E[P]`, `E[q]`.
    pub fn add_controlled(
        &mut self,
        p_mean: &DMatrix<f64>,
        q_mean: &DVector<f64>,
        p: &DMatrix<f64>,
        q: &DVector<f64>,
        noise: &DMatrix<f64>,
    ) {
        self.weight += 1.0;
        self.p += p_mean;
        self.q += q_mean;
        self.pp += p.kronecker(p);
        self.qp += q.kronecker(p);
        self.qq += q * q.transpose();
        self.noise += noise;
    }

    /// Add (`sign = 1`) or remove (`sign = −1`) the draws of another block.
    pub fn accumulate(&mut self, other: &Self, sign: f64) {
        self.weight += sign * other.weight;
        self.p += &other.p * sign;
        self.q += &other.q * sign;
        self.pp += &other.pp * sign;
        self.qp += &other.qp * sign;
        self.qq += &other.qq * sign;
        self.noise += &other.noise * sign;
    }

    /// Solve the stationary fixed-point equations for the mean and covariance in the
    /// coordinates the draws were made in.
    ///
    /// `m = (I − E[P])⁻¹ E[q]`; `vec S = (I − E[P ⊗ P])⁻¹ vec(E[r rᵀ] + E[Q])`. Fails with
    /// [`ExactError::Unstable`] when the spectral radius of `E[P ⊗ P]` is at least 1.
    pub fn stationary(&self, eta: f64) -> Result<(DVector<f64>, DMatrix<f64>, f64), ExactError> {
        let d = self.dim;
        if self.weight <= 0.0 {
            return Err(ExactError::InvalidArgument {
                key: "permutations",
                message: "no draws to average".into(),
            });
        }
        let inv = 1.0 / self.weight;
        let p = &self.p * inv;
        let q = &self.q * inv;
        let pp = &self.pp * inv;
        let qp = &self.qp * inv;
        let qq = &self.qq * inv;
        let noise = &self.noise * inv;
        let finite = |m: &DMatrix<f64>| m.iter().all(|x| x.is_finite());
        if !(finite(&pp) && finite(&p) && q.iter().all(|x| x.is_finite())) {
            return Err(ExactError::Unstable {
                eta,
                spectral_radius: f64::INFINITY,
            });
        }
        let spectral_radius = spectral_radius(&pp);
        if spectral_radius.is_nan() || spectral_radius >= 1.0 {
            return Err(ExactError::Unstable {
                eta,
                spectral_radius,
            });
        }
        let unstable = || ExactError::Unstable {
            eta,
            spectral_radius,
        };
        let identity = DMatrix::<f64>::identity(d, d);
        let mean = (&identity - &p).lu().solve(&q).ok_or_else(unstable)?;
        // E[(P m + q)(P m + q)ᵀ] = E[P m mᵀ Pᵀ] + E[P m qᵀ] + E[q mᵀ Pᵀ] + E[q qᵀ].
        let mm = &mean * mean.transpose();
        let pmmp = unvec(&(&pp * vec(&mm)), d);
        let pmq = unvec(&(&qp * &mean), d);
        let rhs = pmmp + &pmq + pmq.transpose() + qq - mm + noise;
        let identity2 = DMatrix::<f64>::identity(d * d, d * d);
        let cov_vec = (identity2 - &pp)
            .lu()
            .solve(&vec(&rhs))
            .ok_or_else(unstable)?;
        let cov = unvec(&cov_vec, d);
        let cov = (&cov + cov.transpose()) * 0.5;
        Ok((mean, cov, spectral_radius))
    }
}

/// Column-stacking `vec`.
fn vec(m: &DMatrix<f64>) -> DVector<f64> {
    DVector::from_column_slice(m.as_slice())
}

/// Inverse of [`vec`] for a `d × d` matrix.
fn unvec(v: &DVector<f64>, d: usize) -> DMatrix<f64> {
    DMatrix::from_column_slice(d, d, v.as_slice())
}

/// Largest eigenvalue modulus of a square matrix (`∞` when the Schur iteration fails).
pub fn spectral_radius(m: &DMatrix<f64>) -> f64 {
    if m.iter().any(|x| !x.is_finite()) {
        return f64::INFINITY;
    }
    match Schur::try_new(m.clone(), f64::EPSILON, 100_000) {
        Some(schur) => schur
            .complex_eigenvalues()
            .iter()
            .map(|z| z.norm())
            .fold(0.0, f64::max),
        None => f64::INFINITY,
    }
}
