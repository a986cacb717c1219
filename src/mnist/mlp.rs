//! A small multilayer perceptron, `inputs → hidden → classes`, with softmax cross-entropy
//! and a Gaussian prior, written as a negative log posterior (docs/theory.md section 1).
//!
//! # The loss and what η means
//!
//! With per-example cross-entropy `CE_i(w) = −ln softmax(f(x_i; w))_{y_i}` and prior
//! precision `λ`, the per-example loss is
//!
//! ```text
//! l_i(w) = N · CE_i(w) + (λ/2) |w|²,
//! L(w)   = (1/N) Σ_i l_i(w) = Σ_i CE_i(w) + (λ/2) |w|²,
//! ```
//!
//! so `L` is the negative log posterior of the whole training set under the prior
//! `w ~ N(0, I/λ)` (every weight and bias), and `T = 1` in SGLD targets the exact posterior.
//! A minibatch gradient is `g_B = (N/B) Σ_{i∈B} ∇CE_i + λ w`, and the update
//! `w ← w − η g_B` is ordinary SGD on the *mean* cross-entropy with learning rate `η N`
//! plus weight decay `η λ` per step. So `η` here is `N` times smaller than the learning rate
//! one usually quotes: `η = 1e-5` with `N = 8000` is a mean-loss learning rate of 0.08.
//!
//! # Layout and speed
//!
//! The weights are one flat vector: `W1` (`hidden × inputs`, row-major), `b1`, `W2`
//! (`classes × hidden`), `b2`. A batch is gathered into a `B × inputs` matrix and pushed
//! through with faer's matrix products; all buffers live in a [`Workspace`] allocated once
//! for the largest batch, so training allocates nothing per example.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

use super::idx::Digits;

/// The hidden layer's nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `tanh`.
    Tanh,
    /// `max(0, x)`.
    Relu,
}

impl Activation {
    /// The name in presets and reports.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
        }
    }
}

/// The network's shape and prior; the weights live in a separate `Vec<f64>` of length
/// [`Mlp::dim`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mlp {
    /// Pixels per image.
    pub inputs: usize,
    /// Hidden units.
    pub hidden: usize,
    /// Classes (10 digits).
    pub classes: usize,
    /// The hidden layer's activation.
    pub activation: Activation,
    /// Prior precision `λ` of the L2 term `(λ/2)|w|²` in `L`.
    pub prior_precision: f64,
}

/// Buffers for one batch of up to `capacity` examples.
#[derive(Clone, Debug)]
pub struct Workspace {
    capacity: usize,
    /// Inputs, `capacity × inputs`, grey levels / 255.
    x: Vec<f64>,
    labels: Vec<u8>,
    /// Hidden activations, `capacity × hidden`; reused for the hidden error signal.
    hidden: Vec<f64>,
    hidden_error: Vec<f64>,
    /// Logits, then probabilities, then output error signal, `capacity × classes`.
    output: Vec<f64>,
}

impl Workspace {
    /// Buffers for `mlp` and batches of up to `capacity` examples.
    pub fn new(mlp: &Mlp, capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            x: vec![0.0; capacity * mlp.inputs],
            labels: vec![0; capacity],
            hidden: vec![0.0; capacity * mlp.hidden],
            hidden_error: vec![0.0; capacity * mlp.hidden],
            output: vec![0.0; capacity * mlp.classes],
        }
    }

    /// The largest batch the buffers hold.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

/// Sum of cross-entropies and number of correct predictions over some examples.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BatchTally {
    /// `Σ CE_i`.
    pub cross_entropy_sum: f64,
    /// Correct predictions.
    pub correct: usize,
    /// Examples counted.
    pub examples: usize,
}

impl BatchTally {
    /// Add another tally's counts.
    pub fn add(&mut self, other: BatchTally) {
        self.cross_entropy_sum += other.cross_entropy_sum;
        self.correct += other.correct;
        self.examples += other.examples;
    }

    /// Mean cross-entropy per example.
    pub fn mean_cross_entropy(&self) -> f64 {
        self.cross_entropy_sum / self.examples.max(1) as f64
    }

    /// Fraction of correct predictions.
    pub fn accuracy(&self) -> f64 {
        self.correct as f64 / self.examples.max(1) as f64
    }
}

/// Grey level / 255 for every byte.
fn grey_table() -> [f64; 256] {
    let mut table = [0.0; 256];
    for (i, t) in table.iter_mut().enumerate() {
        *t = i as f64 / 255.0;
    }
    table
}

impl Mlp {
    /// Number of weights `d = hidden (inputs + 1) + classes (hidden + 1)`.
    pub fn dim(&self) -> usize {
        self.hidden * (self.inputs + 1) + self.classes * (self.hidden + 1)
    }

    fn offsets(&self) -> [usize; 4] {
        let w1 = self.hidden * self.inputs;
        let b1 = w1 + self.hidden;
        let w2 = b1 + self.classes * self.hidden;
        [w1, b1, w2, w2 + self.classes]
    }

    /// `(W1, b1, W2, b2)` views of a weight vector.
    pub fn split<'a>(&self, w: &'a [f64]) -> (&'a [f64], &'a [f64], &'a [f64], &'a [f64]) {
        let [a, b, c, d] = self.offsets();
        (&w[..a], &w[a..b], &w[b..c], &w[c..d])
    }

    fn split_mut<'a>(
        &self,
        w: &'a mut [f64],
    ) -> (&'a mut [f64], &'a mut [f64], &'a mut [f64], &'a mut [f64]) {
        let [a, b, c, _] = self.offsets();
        let (w1, rest) = w.split_at_mut(a);
        let (b1, rest) = rest.split_at_mut(b - a);
        let (w2, b2) = rest.split_at_mut(c - b);
        (w1, b1, w2, b2)
    }

    /// Glorot-uniform weights, zero biases.
    pub fn initial_weights<R: Rng + ?Sized>(&self, rng: &mut R) -> Vec<f64> {
        let mut w = vec![0.0; self.dim()];
        let limit1 = (6.0 / (self.inputs + self.hidden) as f64).sqrt();
        let limit2 = (6.0 / (self.hidden + self.classes) as f64).sqrt();
        let (w1, _, w2, _) = self.split_mut(&mut w);
        for x in w1.iter_mut() {
            *x = rng.random_range(-limit1..limit1);
        }
        for x in w2.iter_mut() {
            *x = rng.random_range(-limit2..limit2);
        }
        w
    }

    /// Copy examples into the workspace; returns how many.
    fn gather(&self, data: &Digits, indices: &[usize], ws: &mut Workspace) -> usize {
        let grey = grey_table();
        let rows = indices.len().min(ws.capacity);
        for (r, &i) in indices[..rows].iter().enumerate() {
            let row = &mut ws.x[r * self.inputs..(r + 1) * self.inputs];
            for (x, &p) in row.iter_mut().zip(data.image(i)) {
                *x = grey[p as usize];
            }
            ws.labels[r] = data.labels[i];
        }
        rows
    }

    /// Forward pass over the first `rows` gathered examples: hidden activations and class
    /// probabilities in the workspace; returns the tally.
    fn forward(&self, w: &[f64], rows: usize, ws: &mut Workspace) -> BatchTally {
        let (h, c, n_in) = (self.hidden, self.classes, self.inputs);
        let (w1, b1, w2, b2) = self.split(w);
        let x = MatRef::from_row_major_slice(&ws.x[..rows * n_in], rows, n_in);
        let w1 = MatRef::from_row_major_slice(w1, h, n_in);
        let mut a1 = MatMut::from_row_major_slice_mut(&mut ws.hidden[..rows * h], rows, h);
        matmul(&mut a1, Accum::Replace, x, w1.transpose(), 1.0, Par::Seq);
        for row in ws.hidden[..rows * h].chunks_exact_mut(h) {
            for (z, &b) in row.iter_mut().zip(b1) {
                let pre = *z + b;
                *z = match self.activation {
                    Activation::Tanh => pre.tanh(),
                    Activation::Relu => pre.max(0.0),
                };
            }
        }
        let a1 = MatRef::from_row_major_slice(&ws.hidden[..rows * h], rows, h);
        let w2 = MatRef::from_row_major_slice(w2, c, h);
        let mut z2 = MatMut::from_row_major_slice_mut(&mut ws.output[..rows * c], rows, c);
        matmul(&mut z2, Accum::Replace, a1, w2.transpose(), 1.0, Par::Seq);
        let mut tally = BatchTally {
            examples: rows,
            ..BatchTally::default()
        };
        for (row, &label) in ws.output[..rows * c]
            .chunks_exact_mut(c)
            .zip(&ws.labels[..rows])
        {
            let mut best = 0;
            for (z, &b) in row.iter_mut().zip(b2) {
                *z += b;
            }
            let mut max = f64::NEG_INFINITY;
            for (k, &z) in row.iter().enumerate() {
                if z > max {
                    max = z;
                    best = k;
                }
            }
            let mut total = 0.0;
            for z in row.iter_mut() {
                *z = (*z - max).exp();
                total += *z;
            }
            let label = label as usize;
            // CE = log Σ exp(z_k − max) − (z_y − max), with row[label] = exp(z_y − max).
            tally.cross_entropy_sum += total.ln() - row[label].ln();
            for z in row.iter_mut() {
                *z /= total;
            }
            if best == label {
                tally.correct += 1;
            }
        }
        tally
    }

    /// Gradient of the minibatch estimate of `L`,
    /// `g_B = (n_total / B) Σ_{i∈batch} ∇CE_i + λ w`, written into `gradient`; returns the
    /// batch's tally (cross-entropies before the update). `batch.len()` must not exceed the
    /// workspace capacity.
    pub fn batch_gradient(
        &self,
        w: &[f64],
        data: &Digits,
        batch: &[usize],
        n_total: usize,
        ws: &mut Workspace,
        gradient: &mut [f64],
    ) -> BatchTally {
        let rows = self.gather(data, batch, ws);
        let tally = self.forward(w, rows, ws);
        let (h, c, n_in) = (self.hidden, self.classes, self.inputs);
        let scale = n_total as f64 / rows.max(1) as f64;
        // Output error p − onehot(y), in place.
        for (row, &label) in ws.output[..rows * c]
            .chunks_exact_mut(c)
            .zip(&ws.labels[..rows])
        {
            row[label as usize] -= 1.0;
        }
        for (g, &x) in gradient.iter_mut().zip(w) {
            *g = self.prior_precision * x;
        }
        let (_, _, w2, _) = self.split(w);
        let (g1, gb1, g2, gb2) = self.split_mut(gradient);
        let d2 = MatRef::from_row_major_slice(&ws.output[..rows * c], rows, c);
        let a1 = MatRef::from_row_major_slice(&ws.hidden[..rows * h], rows, h);
        // ∂/∂W2 = d2ᵀ a1, ∂/∂b2 = Σ_rows d2.
        matmul(
            MatMut::from_row_major_slice_mut(g2, c, h),
            Accum::Add,
            d2.transpose(),
            a1,
            scale,
            Par::Seq,
        );
        for row in ws.output[..rows * c].chunks_exact(c) {
            for (g, &d) in gb2.iter_mut().zip(row) {
                *g += scale * d;
            }
        }
        // Hidden error d1 = (d2 W2) ⊙ f'(z1).
        let mut d1 = MatMut::from_row_major_slice_mut(&mut ws.hidden_error[..rows * h], rows, h);
        matmul(
            &mut d1,
            Accum::Replace,
            d2,
            MatRef::from_row_major_slice(w2, c, h),
            1.0,
            Par::Seq,
        );
        for (d, &a) in ws.hidden_error[..rows * h]
            .iter_mut()
            .zip(&ws.hidden[..rows * h])
        {
            *d *= match self.activation {
                Activation::Tanh => 1.0 - a * a,
                Activation::Relu => {
                    if a > 0.0 {
                        1.0
                    } else {
                        0.0
                    }
                }
            };
        }
        let d1 = MatRef::from_row_major_slice(&ws.hidden_error[..rows * h], rows, h);
        let x = MatRef::from_row_major_slice(&ws.x[..rows * n_in], rows, n_in);
        // ∂/∂W1 = d1ᵀ x, ∂/∂b1 = Σ_rows d1.
        matmul(
            MatMut::from_row_major_slice_mut(g1, h, n_in),
            Accum::Add,
            d1.transpose(),
            x,
            scale,
            Par::Seq,
        );
        for row in ws.hidden_error[..rows * h].chunks_exact(h) {
            for (g, &d) in gb1.iter_mut().zip(row) {
                *g += scale * d;
            }
        }
        tally
    }

    /// Cross-entropy and accuracy over a whole data set, in workspace-sized chunks.
    pub fn evaluate(&self, w: &[f64], data: &Digits, ws: &mut Workspace) -> BatchTally {
        let mut tally = BatchTally::default();
        let mut indices = Vec::with_capacity(ws.capacity);
        let mut start = 0;
        while start < data.len() {
            let end = (start + ws.capacity).min(data.len());
            indices.clear();
            indices.extend(start..end);
            let rows = self.gather(data, &indices, ws);
            tally.add(self.forward(w, rows, ws));
            start = end;
        }
        tally
    }

    /// The predicted class (largest logit) of each of the first `count` examples of `data`
    /// (all of them when `count` exceeds the set), in workspace-sized chunks.
    pub fn predict(&self, w: &[f64], data: &Digits, count: usize, ws: &mut Workspace) -> Vec<u8> {
        let count = count.min(data.len());
        let mut predicted = Vec::with_capacity(count);
        let mut indices = Vec::with_capacity(ws.capacity);
        let mut start = 0;
        while start < count {
            let end = (start + ws.capacity).min(count);
            indices.clear();
            indices.extend(start..end);
            let rows = self.gather(data, &indices, ws);
            self.forward(w, rows, ws);
            // After `forward` the output rows hold probabilities: the argmax is the class.
            for row in ws.output[..rows * self.classes].chunks_exact(self.classes) {
                let best = row
                    .iter()
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |(b, m), (k, &p)| {
                            if p > m { (k, p) } else { (b, m) }
                        },
                    )
                    .0;
                predicted.push(best as u8);
            }
            start = end;
        }
        predicted
    }

    /// The negative log posterior `L(w) = Σ_i CE_i(w) + (λ/2)|w|²` over `data`.
    pub fn loss(&self, w: &[f64], data: &Digits, ws: &mut Workspace) -> f64 {
        let norm2: f64 = w.iter().map(|x| x * x).sum();
        self.evaluate(w, data, ws).cross_entropy_sum + 0.5 * self.prior_precision * norm2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_pcg::Pcg64Mcg;

    fn tiny_data(n: usize, seed: u64) -> Digits {
        let mut rng = Pcg64Mcg::seed_from_u64(seed);
        let pixels = (0..n * 16).map(|_| rng.random_range(0..=255u8)).collect();
        let labels = (0..n).map(|i| (i % 10) as u8).collect();
        Digits {
            rows: 4,
            cols: 4,
            pixels,
            labels,
        }
    }

    /// `predict` agrees with `evaluate`: the share of predictions equal to the labels is the
    /// accuracy, whatever the chunking (capacity 8 over 23 examples).
    #[test]
    fn predictions_agree_with_accuracy() {
        let data = tiny_data(23, 9);
        let mlp = Mlp {
            inputs: 16,
            hidden: 5,
            classes: 10,
            activation: Activation::Tanh,
            prior_precision: 0.7,
        };
        let mut rng = Pcg64Mcg::seed_from_u64(3);
        let w = mlp.initial_weights(&mut rng);
        let mut ws = Workspace::new(&mlp, 8);
        let predicted = mlp.predict(&w, &data, 100, &mut ws);
        assert_eq!(predicted.len(), 23);
        assert!(predicted.iter().all(|&p| p < 10));
        let correct = predicted
            .iter()
            .zip(&data.labels)
            .filter(|(p, l)| p == l)
            .count();
        assert_eq!(correct, mlp.evaluate(&w, &data, &mut ws).correct);
        assert_eq!(mlp.predict(&w, &data, 5, &mut ws), predicted[..5]);
    }

    /// The full-batch gradient (`batch` = every example, `n_total = N`) is `∇L`; compare
    /// every tenth coordinate with central differences of `L` (step 1e-5: truncation error
    /// ~h² · L''' ≈ 1e-9, rounding ~1e-16 · L / h ≈ 1e-10 for L ~ 50).
    #[test]
    fn gradient_matches_finite_differences() {
        for activation in [Activation::Tanh, Activation::Relu] {
            let data = tiny_data(23, 4);
            let mlp = Mlp {
                inputs: 16,
                hidden: 5,
                classes: 10,
                activation,
                prior_precision: 0.7,
            };
            let mut rng = Pcg64Mcg::seed_from_u64(1);
            let w = mlp.initial_weights(&mut rng);
            let mut w: Vec<f64> = w.iter().map(|x| x + 0.1).collect();
            let mut ws = Workspace::new(&mlp, 8);
            let mut batch_ws = Workspace::new(&mlp, 23);
            let all: Vec<usize> = (0..23).collect();
            let mut gradient = vec![0.0; mlp.dim()];
            mlp.batch_gradient(&w, &data, &all, 23, &mut batch_ws, &mut gradient);
            let h = 1e-5;
            for i in (0..mlp.dim()).step_by(10) {
                let keep = w[i];
                w[i] = keep + h;
                let up = mlp.loss(&w, &data, &mut ws);
                w[i] = keep - h;
                let down = mlp.loss(&w, &data, &mut ws);
                w[i] = keep;
                let numeric = (up - down) / (2.0 * h);
                assert!(
                    (numeric - gradient[i]).abs() < 1e-5 * (1.0 + numeric.abs()),
                    "{activation:?} coordinate {i}: {numeric} vs {}",
                    gradient[i]
                );
            }
        }
    }

    /// A minibatch gradient is `(N/B) Σ_batch ∇CE_i + λ w`: the mean of the gradients of a
    /// partition into batches equals the full gradient exactly (up to rounding).
    #[test]
    fn minibatch_gradients_average_to_the_full_gradient() {
        let data = tiny_data(20, 8);
        let mlp = Mlp {
            inputs: 16,
            hidden: 6,
            classes: 10,
            activation: Activation::Tanh,
            prior_precision: 2.0,
        };
        let w = mlp.initial_weights(&mut Pcg64Mcg::seed_from_u64(2));
        let mut ws = Workspace::new(&mlp, 20);
        let mut full = vec![0.0; mlp.dim()];
        let all: Vec<usize> = (0..20).collect();
        mlp.batch_gradient(&w, &data, &all, 20, &mut ws, &mut full);
        let mut mean = vec![0.0; mlp.dim()];
        let mut part = vec![0.0; mlp.dim()];
        for batch in all.chunks(5) {
            mlp.batch_gradient(&w, &data, batch, 20, &mut ws, &mut part);
            for (m, p) in mean.iter_mut().zip(&part) {
                *m += p / 4.0;
            }
        }
        for (a, b) in mean.iter().zip(&full) {
            assert!((a - b).abs() < 1e-10 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}
