//! The per-epoch diffusion matrix of SGWORLD (docs/theory.md §4.4, §7.4): the epoch map's
//! `D = Q/2`, whose thermal part `ηT Σ_j (I − ηH̄)^{2j}` contracts each Langevin kick by the
//! steps left in the epoch, against the leading-order `D_WOR + η M T I`.
//!
//! Run in release mode: `cargo test --release --test epoch_diffusion`.

use std::path::Path;

use neqlab::preset::Preset;
use neqlab::stats::sampled_diffusion;
use neqlab::theory::wor::wor_diffusion_monte_carlo;
use neqlab::theory::{TheoryOptions, linear_theory};

/// Half the covariance of 10⁵ one-epoch displacements from the predicted mean of the shipped
/// `sgworld-equilibrium` preset (bowl `H = diag(1, 4)`, `η = 0.002`, `B = 10`, `M = 10`,
/// `T = 2·10⁻⁴`, so `η M T = 4·10⁻⁶` and `η M h_max = 0.08`). The minibatch part `D_WOR` is
/// of order `10⁻⁹` here, so the comparison isolates the thermal kicks.
///
/// Statistics: with `n = 10⁵` independent displacements the standard error of a diagonal
/// entry of `½ Cov` is `sqrt(2/n) D_aa` (0.45%), and of the off-diagonal entry
/// `sqrt((D_11 D_22 + D_12²)/n)`. The epoch map must agree within 4 standard errors in every
/// entry; the leading order overstates the stiff entry by `1 − Σ_j (1 − ηh)^{2j}/M ≈ 7%`,
/// about 15 standard errors, and the test asks that it be at least 8 away. Measured (seed 3):
/// diagonal sampled `(3.957, 3.729)·10⁻⁶`, epoch map `(3.929, 3.730)·10⁻⁶`, leading order
/// `(4.000, 4.005)·10⁻⁶` (16 standard errors above the sampled stiff entry).
#[test]
fn sgworld_epoch_diffusion_follows_the_epoch_map() {
    let text = neqlab::preset::shipped("sgworld-equilibrium").expect("shipped preset");
    let path = Path::new("presets/sgworld-equilibrium.toml");
    let preset = Preset::from_toml(text, path).expect("preset parses");
    let experiment = preset.build(path, Some(text)).expect("experiment builds");
    let dynamics = experiment.dynamics;
    let landscape = experiment.landscape.as_ref();
    let theory = linear_theory(&experiment, &TheoryOptions::default()).expect("prediction");
    let samples = 100_000;
    let sampled = sampled_diffusion(landscape, dynamics, &theory.mean, samples, 3);

    let m = dynamics.batches_per_epoch() as f64;
    let thermal = dynamics.eta * m * dynamics.temperature;
    let minibatch = wor_diffusion_monte_carlo(landscape, &dynamics, &theory.mean, 10_000, 1);
    let leading: Vec<f64> = (0..4)
        .map(|i| minibatch.diffusion[i] + if i % 3 == 0 { thermal } else { 0.0 })
        .collect();

    let n = samples as f64;
    let d = &theory.diffusion;
    let standard_error = [
        (2.0 / n).sqrt() * d[0],
        ((d[0] * d[3] + d[1] * d[1]) / n).sqrt(),
        ((d[0] * d[3] + d[1] * d[1]) / n).sqrt(),
        (2.0 / n).sqrt() * d[3],
    ];
    println!("sampled {sampled:?}\nepoch map {d:?}\nleading order {leading:?}");
    for i in 0..4 {
        assert!(
            (sampled[i] - d[i]).abs() < 4.0 * standard_error[i],
            "entry {i}: sampled {} vs epoch map {} ± {}",
            sampled[i],
            d[i],
            standard_error[i]
        );
    }
    // The stiff direction (h = 4) is where the contraction of the kicks shows.
    assert!(
        (leading[3] - sampled[3]) > 8.0 * standard_error[3],
        "leading order {} vs sampled {} ± {}",
        leading[3],
        sampled[3],
        standard_error[3]
    );
}
