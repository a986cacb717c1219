//! A fast, stable-toolchain check of the parsers the fuzz targets in `fuzz/` explore (preset
//! TOML, `--set` values, `x,y` data files, IDX files, preset save → load): a few hundred
//! generated inputs each, from a fixed seed, in a few seconds. None may panic; what parses
//! must round-trip.

use std::io::Write;
use std::path::Path;

use neqlab::landscape::csv::parse_xy;
use neqlab::limits::MemoryBudget;
use neqlab::mnist::idx::{encode_idx, parse_idx_within};
use neqlab::preset::{Preset, SHIPPED, StartSpec};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};

fn config(cases: u32) -> Config {
    Config {
        cases,
        rng_seed: RngSeed::Fixed(0x0068_6f73_7469_6c65),
        failure_persistence: None,
        ..Config::default()
    }
}

/// A small budget, so that generated sizes meet the limits often.
fn budget() -> MemoryBudget {
    MemoryBudget::with_available_bytes(64 << 20)
}

/// TOML values, ordinary and hostile.
fn toml_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|x| x.to_string()),
        (0u64..5000).prop_map(|x| x.to_string()),
        any::<f64>().prop_map(|x| format!("{x:?}")),
        prop::sample::select(vec![
            "nan",
            "inf",
            "-inf",
            "-0.0",
            "1e308",
            "1e-320",
            "0",
            "-1",
            "1e9",
            "2.5",
            "9223372036854775807",
            "18446744073709551615",
            "\"\"",
            "\"bowl\"",
            "\"sgd\"",
            "\"wor\"",
            "\"stationary\"",
            "true",
            "[]",
            "[1.0, 4.0]",
            "[1, 2, 3]",
            "[nan, 1]",
            "[[1]]",
            "{ a = 1 }",
            "\"/dev/zero\"",
            "\"missing.csv\"",
            "[0, 1, 0, 1]",
            "[-1e200, 1e200, -1, 1]",
            "[4, 5]",
            "[0, 99]",
        ])
        .prop_map(str::to_string),
        "[a-z\"\\[\\]{}=,.]{0,12}",
    ]
}

const KEYS: &[&str] = &[
    "title",
    "caption",
    "kind",
    "hessian",
    "noise",
    "angle_deg",
    "n",
    "data_seed",
    "data",
    "well",
    "stiffness",
    "tilt",
    "shear",
    "offset",
    "noise_std",
    "l2",
    "free",
    "prior_precision",
    "true_w",
    "x_scale",
    "x_distribution",
    "algorithm",
    "replacement",
    "eta",
    "batch",
    "temperature",
    "walkers",
    "steps",
    "burn_in",
    "seed",
    "start",
    "grid",
    "bounds",
    "show_walkers",
    "trails",
    "arrows",
    "units_per_frame",
    "etas",
    "permutations",
    "bogus",
];

const TABLES: &[&str] = &["landscape", "dynamics", "fp", "view", "posterior", "other"];

/// A preset-like document: a shipped preset with lines replaced, added or removed.
fn preset_text() -> impl Strategy<Value = String> {
    let edit = (0usize..40, prop::sample::select(KEYS), toml_value(), 0u8..4);
    (
        prop::sample::select(SHIPPED.to_vec()),
        prop::collection::vec(edit, 0..6),
    )
        .prop_map(|((_, text), edits)| {
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            for (position, key, value, how) in edits {
                let at = position % (lines.len() + 1);
                let line = match how {
                    0 => format!("[{}]", TABLES[position % TABLES.len()]),
                    _ => format!("{key} = {value}"),
                };
                match how {
                    3 if at < lines.len() => {
                        lines.remove(at);
                    }
                    1 if at < lines.len() => lines[at] = line,
                    _ => lines.insert(at, line),
                }
            }
            lines.join("\n")
        })
}

proptest! {
    #![proptest_config(config(300))]

    #[test]
    fn preset_text_parses_round_trips_and_builds_without_panicking(text in preset_text()) {
        let path = Path::new("generated/p.toml");
        if let Ok(preset) = Preset::from_toml(&text, path) {
            let saved = preset.to_toml();
            let again = Preset::from_toml(&saved, path).expect("a parsed preset parses again");
            prop_assert_eq!(again.to_toml(), saved);
            if let Err(error) = preset.build_within(path, Some(&text), &budget()) {
                prop_assert!(error.to_string().starts_with("generated/p.toml"), "{}", error);
            }
        }
    }

    #[test]
    fn set_values_apply_or_name_the_argument(
        choice in 0..SHIPPED.len(),
        table in prop::sample::select(TABLES),
        key in prop::sample::select(KEYS),
        value in toml_value(),
    ) {
        let (name, text) = SHIPPED[choice];
        let preset = Preset::from_toml(text, Path::new(name)).expect("shipped");
        let argument = format!("{table}.{key}={value}");
        match preset.with_overrides(std::slice::from_ref(&argument)) {
            Ok(changed) => {
                let _ = changed.build_within(Path::new(name), Some(text), &budget());
            }
            Err(error) => {
                let message = error.to_string();
                prop_assert!(message.contains(&argument), "{}", message);
            }
        }
    }

    #[test]
    fn data_files_parse_or_name_a_line(
        lines in prop::collection::vec(
            prop_oneof![
                Just("x,y".to_string()),
                Just(String::new()),
                Just("# comment".to_string()),
                (any::<f64>(), any::<f64>()).prop_map(|(x, y)| format!("{x:?},{y:?}")),
                (-1e3f64..1e3, -1e3f64..1e3).prop_map(|(x, y)| format!(" {x} , {y} ")),
                "[0-9a-z,.;e+ -]{0,10}",
            ],
            0..12,
        )
    ) {
        let text = lines.join("\n");
        match parse_xy(&text, Path::new("d.csv")) {
            Ok(data) => {
                prop_assert!(data.x.len() >= 2 && data.x.len() == data.y.len());
                prop_assert!(data.x.iter().chain(&data.y).all(|v| v.is_finite()));
            }
            Err(error) => prop_assert!(error.to_string().starts_with("d.csv"), "{}", error),
        }
    }

    #[test]
    fn written_points_read_back_exactly(
        points in prop::collection::vec((-1e300f64..1e300, -1e300f64..1e300), 2..50)
    ) {
        let mut text = String::from("# generated\nx,y\n");
        for (x, y) in &points {
            text.push_str(&format!("{x:?},{y:?}\n"));
        }
        let data = parse_xy(&text, Path::new("d.csv")).expect("valid");
        let xs: Vec<f64> = points.iter().map(|p| p.0).collect();
        prop_assert_eq!(data.x, xs);
    }

    #[test]
    fn idx_bytes_decode_or_are_refused(
        rank in 0u8..5,
        dims in prop::collection::vec(
            prop_oneof![0u32..5, any::<u32>(), Just(1_000_000_000)],
            0..5,
        ),
        data in prop::collection::vec(any::<u8>(), 0..64),
        compress in any::<bool>(),
    ) {
        let mut bytes = vec![0, 0, 0x08, rank];
        for d in &dims {
            bytes.extend_from_slice(&d.to_be_bytes());
        }
        bytes.extend_from_slice(&data);
        if compress {
            let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(&bytes).expect("compress");
            bytes = encoder.finish().expect("compress");
        }
        match parse_idx_within(&bytes, Path::new("f.idx"), &budget()) {
            Ok(array) => {
                let expected: usize = array.dims.iter().product();
                prop_assert_eq!(array.data.len(), expected);
                prop_assert_eq!(array.dims.len(), rank as usize);
            }
            Err(error) => prop_assert!(error.to_string().starts_with("f.idx"), "{}", error),
        }
    }

    #[test]
    fn idx_arrays_round_trip(
        dims in prop::collection::vec(1usize..6, 1..4),
        seed in any::<u8>(),
        gzip in any::<bool>(),
    ) {
        let n: usize = dims.iter().product();
        let data: Vec<u8> = (0..n).map(|k| (k as u8).wrapping_mul(31).wrapping_add(seed)).collect();
        let bytes = encode_idx(&dims, &data, gzip).expect("encode");
        let array = parse_idx_within(&bytes, Path::new("f.idx"), &budget()).expect("decode");
        prop_assert_eq!(array.dims, dims);
        prop_assert_eq!(array.data, data);
    }
}

proptest! {
    #![proptest_config(config(200))]

    /// Save → load: any title, any numbers (NaN, ±inf, −0 included), any integers; the save
    /// fails with a message (an integer beyond TOML's 2⁶³ − 1) or loads back the same preset.
    #[test]
    fn presets_save_and_load_back(
        title in ".{0,40}",
        eta in any::<f64>(),
        temperature in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-0.0), any::<f64>()],
        walkers in any::<usize>(),
        seed in any::<u64>(),
        start in prop::option::of(prop_oneof![
            prop::collection::vec(any::<f64>(), 0..4).prop_map(StartSpec::Point),
            Just(StartSpec::Stationary),
        ]),
        bounds in prop::option::of(prop::array::uniform4(any::<f64>())),
    ) {
        let text = neqlab::preset::shipped("double-well").expect("shipped");
        let mut preset = Preset::from_toml(text, Path::new("p.toml")).expect("parses");
        preset.title = title;
        preset.dynamics.eta = eta;
        preset.dynamics.temperature = temperature;
        preset.dynamics.walkers = walkers;
        preset.dynamics.seed = seed;
        preset.dynamics.start = start;
        preset.fp.bounds = bounds;
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("saved.toml");
        match preset.save(&path) {
            Ok(saved) => {
                let loaded = Preset::load(&path, &[]).expect("a saved preset loads");
                prop_assert!(loaded == preset || loaded.to_toml() == saved);
                prop_assert_eq!(loaded.to_toml(), saved);
            }
            Err(error) => {
                prop_assert!(seed > i64::MAX as u64 || walkers > i64::MAX as usize, "{}", error);
                prop_assert!(!path.exists());
            }
        }
    }
}
