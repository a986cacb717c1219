//! Preset save → load round trips: an arbitrary preset (any strings, any numbers: NaN, ±inf,
//! −0, subnormals, huge integers) is saved through the atomic writer and loaded back. A save
//! either fails with a message or loads back as the same preset, and saving it again gives
//! the same bytes.
#![no_main]

use std::path::PathBuf;

use arbitrary::{Arbitrary, Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use neqlab::dynamics::{Algorithm, Replacement};
use neqlab::landscape::linear_regression::XDistribution;
use neqlab::landscape::{
    BowlSpec, DoubleWellSpec, LandscapeSpec, LinearRegressionSpec, RegressionNet2dSpec,
    RegressionNetSpec,
};
use neqlab::posterior::PosteriorSpec;
use neqlab::preset::{DynamicsSpec, FpSpec, Preset, StartSpec, ViewSpec};

fn number(u: &mut Unstructured) -> Result<f64> {
    // Half the time a special value, so that the edges are visited often.
    Ok(match u.int_in_range(0..=9)? {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => f64::NEG_INFINITY,
        3 => -0.0,
        4 => f64::MIN_POSITIVE / 4.0,
        _ => f64::arbitrary(u)?,
    })
}

fn pair(u: &mut Unstructured) -> Result<[f64; 2]> {
    Ok([number(u)?, number(u)?])
}

fn landscape(u: &mut Unstructured) -> Result<LandscapeSpec> {
    Ok(match u.int_in_range(0..=4)? {
        0 => LandscapeSpec::Bowl(BowlSpec {
            hessian: pair(u)?,
            noise: pair(u)?,
            angle_deg: number(u)?,
            n: usize::arbitrary(u)?,
            data_seed: u64::arbitrary(u)?,
        }),
        1 => LandscapeSpec::DoubleWell(DoubleWellSpec {
            well: number(u)?,
            stiffness: number(u)?,
            tilt: number(u)?,
            shear: number(u)?,
            offset: number(u)?,
            n: usize::arbitrary(u)?,
            data_seed: u64::arbitrary(u)?,
        }),
        2 => LandscapeSpec::LinearRegression(LinearRegressionSpec {
            data: Option::<String>::arbitrary(u)?.map(PathBuf::from),
            n: Option::arbitrary(u)?,
            data_seed: Option::arbitrary(u)?,
            true_w: if bool::arbitrary(u)? {
                Some(pair(u)?)
            } else {
                None
            },
            x_distribution: match u.int_in_range(0..=2)? {
                0 => None,
                1 => Some(XDistribution::Uniform),
                _ => Some(XDistribution::Gaussian),
            },
            x_scale: if bool::arbitrary(u)? {
                Some(number(u)?)
            } else {
                None
            },
            noise_std: number(u)?,
            prior_precision: number(u)?,
        }),
        3 => LandscapeSpec::RegressionNet(RegressionNetSpec {
            data: Option::<String>::arbitrary(u)?.map(PathBuf::from),
            data_seed: Option::arbitrary(u)?,
            noise_std: number(u)?,
            l2: number(u)?,
        }),
        _ => LandscapeSpec::RegressionNet2d(RegressionNet2dSpec {
            data: Option::<String>::arbitrary(u)?.map(PathBuf::from),
            data_seed: Option::arbitrary(u)?,
            noise_std: number(u)?,
            l2: number(u)?,
            free: [usize::arbitrary(u)?, usize::arbitrary(u)?],
        }),
    })
}

fn preset(u: &mut Unstructured) -> Result<Preset> {
    let algorithm = *u.choose(&Algorithm::ALL)?;
    let replacement = *u.choose(&[None, Some(Replacement::Wr), Some(Replacement::Wor)])?;
    let start = match u.int_in_range(0..=2)? {
        0 => None,
        1 => Some(StartSpec::Stationary),
        _ => {
            let len = u.int_in_range(0..=8)?;
            Some(StartSpec::Point(
                (0..len).map(|_| number(u)).collect::<Result<Vec<f64>>>()?,
            ))
        }
    };
    Ok(Preset {
        title: String::arbitrary(u)?,
        caption: String::arbitrary(u)?,
        landscape: landscape(u)?,
        dynamics: DynamicsSpec {
            algorithm,
            replacement,
            eta: number(u)?,
            batch: usize::arbitrary(u)?,
            temperature: number(u)?,
            walkers: usize::arbitrary(u)?,
            steps: u64::arbitrary(u)?,
            burn_in: u64::arbitrary(u)?,
            seed: u64::arbitrary(u)?,
            start,
        },
        fp: FpSpec {
            grid: usize::arbitrary(u)?,
            bounds: if bool::arbitrary(u)? {
                Some([number(u)?, number(u)?, number(u)?, number(u)?])
            } else {
                None
            },
        },
        view: ViewSpec {
            show_walkers: bool::arbitrary(u)?,
            trails: usize::arbitrary(u)?,
            arrows: bool::arbitrary(u)?,
            units_per_frame: u64::arbitrary(u)?,
        },
        posterior: if bool::arbitrary(u)? {
            let len = u.int_in_range(0..=4)?;
            Some(PosteriorSpec {
                etas: (0..len).map(|_| number(u)).collect::<Result<Vec<f64>>>()?,
                permutations: Option::arbitrary(u)?,
            })
        } else {
            None
        },
    })
}

fn same_numbers(a: &Preset, b: &Preset) -> bool {
    // NaN ≠ NaN: compare the saved text instead when a NaN is present.
    a == b || a.to_toml() == b.to_toml()
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(original) = preset(&mut u) else {
        return;
    };
    let Ok(folder) = tempfile::tempdir() else {
        return;
    };
    let path = folder.path().join("saved.toml");
    let text = match original.save(&path) {
        Ok(text) => text,
        Err(error) => {
            let message = error.to_string();
            assert!(!message.is_empty());
            assert!(!path.exists(), "a failed save leaves no file");
            return;
        }
    };
    let loaded = Preset::load(&path, &[]).expect("a saved preset loads");
    assert!(same_numbers(&loaded, &original), "{text}");
    assert_eq!(loaded.to_toml(), text, "saving twice gives the same bytes");
});
